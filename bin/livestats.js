#!/usr/bin/env node
'use strict'
require('../dist/cli.cjs').main(process.argv.slice(2))
