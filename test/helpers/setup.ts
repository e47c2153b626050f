// Registers toHaveReceivedCommandWith & co. on vitest's expect, with their types.
import 'aws-sdk-client-mock-vitest/extend';
