#!/usr/bin/env node
// `etcd-stretch` after `npm install -g` / `npm link` / `npx etcd-stretch`: the CLI is TypeScript,
// run through tsx's loader (a dependency), registered for this process only.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
