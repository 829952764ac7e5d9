// Entry point of `npm run sim` (node --import tsx sim/run.ts ...); see cli.ts.
import { main } from "./cli.js";

process.exitCode = main(process.argv.slice(2));
