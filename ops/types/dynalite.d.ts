// dynalite 4 ships no types: the part of its API that ops/dynamo.ts uses (its readme, "Usage").
declare module 'dynalite' {
  import type { Server } from 'node:http';
  export default function dynalite(options?: {
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
  }): Server;
}
