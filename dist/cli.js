#!/usr/bin/env node
// safe-imagetools, the command line: see docs/cli.md.
import './cli/index.js';
