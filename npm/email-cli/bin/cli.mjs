#!/usr/bin/env node
import { main } from "../src/index.mjs";

process.exitCode = await main(process.argv.slice(2));
