#!/usr/bin/env node
// `npx cdk synth` / `npx cdk deploy`: the serverless PACS in your AWS account.
import { buildApp } from '../lib/app.js';

buildApp().app.synth();
