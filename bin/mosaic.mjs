#!/usr/bin/env node
// Entry point of the `mosaic` command: loads the TypeScript sources through tsx (a dependency,
// so no global install is needed).
import { register } from 'tsx/esm/api'

register()
await import('../src/cli/main.ts')
