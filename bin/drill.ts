// npm run drill -- status [--pair NAME] | drill|move --pair NAME [--to standby|primary] | rehearse [--pair NAME]
// [--json]: see ops/drill.ts.
import { drillClients, regionOf, runDrill } from '../ops/drill.ts';

const argv = process.argv.slice(2);
process.exitCode = await runDrill(argv, {
  ...drillClients(regionOf(argv)),
  out: (line) => console.log(line),
  err: (line) => console.error(line),
});
