#!/usr/bin/env node
// No env on the stack: synthesis needs no AWS account or credentials (`npx cdk synth`).
import { App } from 'aws-cdk-lib';
import { StudioStack } from '../lib/studio-stack';

const app = new App();
new StudioStack(app, 'StudioExample', {
  description: 'Example: SageMaker Studio domain, user profiles and lifecycle config through the studio custom resources',
  providerStackName: app.node.tryGetContext('providerStackName') ?? 'studio-custom-resources',
});
