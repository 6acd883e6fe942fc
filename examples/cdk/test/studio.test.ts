// Unit tests of the constructs (lib/studio.ts) and the example stack: the synthesized template,
// read with the CDK assertions library. Run with `npm test` (node's test runner, ts-node).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { App, CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { StudioDomain, StudioLifecycleConfig, StudioProvider, StudioSpace, StudioUserProfile } from '../lib/studio';
import { StudioStack } from '../lib/studio-stack';

const provider = StudioProvider.fromStackName('studio-provider');

function stack(): Stack {
  return new Stack(new App(), 'Test');
}

function domain(scope: Stack, props: Partial<ConstructorParameters<typeof StudioDomain>[2]> = {}): StudioDomain {
  return new StudioDomain(scope, 'Domain', {
    provider,
    DomainName: 'research',
    AuthMode: 'IAM',
    VpcId: 'vpc-0abc',
    SubnetIds: ['subnet-0a', 'subnet-0b'],
    DefaultUserSettings: { ExecutionRole: 'arn:aws:iam::123456789012:role/studio' },
    ...props,
  });
}

/** The one resource of that type in the template, as CloudFormation receives it. */
function only(template: Template, type: string): { logicalId: string; properties: Record<string, unknown> } {
  const resources = Object.entries(template.findResources(type));
  assert.equal(resources.length, 1, `one ${type}`);
  const [logicalId, resource] = resources[0];
  return { logicalId, properties: resource.Properties };
}

test('StudioDomain: the API members as properties, the ServiceToken imported from the provider stack', () => {
  const s = stack();
  domain(s, {
    ServiceTimeout: Duration.minutes(45),
    AppNetworkAccessType: 'VpcOnly',
    RetentionPolicy: { HomeEfsFileSystem: 'Delete' },
    ForceDelete: true,
    Tags: [{ Key: 'team', Value: 'research' }],
  });
  const { logicalId, properties } = only(Template.fromStack(s), 'Custom::StudioDomain');
  // The construct's id is the logical id, as for a plain CustomResource.
  assert.equal(logicalId, 'Domain');
  assert.deepEqual(properties, {
    ServiceToken: { 'Fn::ImportValue': 'studio-provider-StudioDomainFunctionArn' },
    ServiceTimeout: '2700',
    DomainName: 'research',
    AuthMode: 'IAM',
    VpcId: 'vpc-0abc',
    SubnetIds: ['subnet-0a', 'subnet-0b'],
    DefaultUserSettings: { ExecutionRole: 'arn:aws:iam::123456789012:role/studio' },
    AppNetworkAccessType: 'VpcOnly',
    RetentionPolicy: { HomeEfsFileSystem: 'Delete' },
    ForceDelete: true,
    Tags: [{ Key: 'team', Value: 'research' }],
  });
});

test('unset optional members and ServiceTimeout are left out', () => {
  const s = stack();
  domain(s, { KmsKeyId: undefined });
  const { properties } = only(Template.fromStack(s), 'Custom::StudioDomain');
  assert.deepEqual(Object.keys(properties).sort(), [
    'AuthMode', 'DefaultUserSettings', 'DomainName', 'ServiceToken', 'SubnetIds', 'VpcId',
  ]);
});

test('StudioDomain Data attributes are Fn::GetAtt of their names', () => {
  const s = stack();
  const d = domain(s);
  const attributes: Record<string, string> = {
    DomainId: d.domainId,
    DomainArn: d.domainArn,
    Url: d.attrUrl,
    HomeEfsFileSystemId: d.attrHomeEfsFileSystemId,
    SecurityGroupIdForDomainBoundary: d.attrSecurityGroupIdForDomainBoundary,
    SingleSignOnApplicationArn: d.attrSingleSignOnApplicationArn,
  };
  for (const [name, value] of Object.entries(attributes)) {
    new CfnOutput(s, `Out${name}`, { value });
  }
  const outputs = Template.fromStack(s).toJSON().Outputs;
  for (const name of Object.keys(attributes)) {
    assert.deepEqual(outputs[`Out${name}`].Value, { 'Fn::GetAtt': ['Domain', name] }, name);
  }
});

test('StudioUserProfile: DomainId from the domain, SSO members, its own ServiceToken and Data', () => {
  const s = stack();
  const d = domain(s, { AuthMode: 'SSO' });
  const profile = new StudioUserProfile(s, 'Alice', {
    provider,
    DomainId: d.domainId,
    UserProfileName: 'alice',
    SingleSignOnUserIdentifier: 'UserName',
    SingleSignOnUserValue: 'alice@example.com',
    UserSettings: { JupyterLabAppSettings: { DefaultResourceSpec: { InstanceType: 'ml.t3.medium' } } },
    ForceDelete: false,
  });
  new CfnOutput(s, 'Arn', { value: profile.userProfileArn });
  new CfnOutput(s, 'Uid', { value: profile.attrHomeEfsFileSystemUid });
  const template = Template.fromStack(s);
  template.hasResourceProperties('Custom::StudioUserProfile', {
    ServiceToken: { 'Fn::ImportValue': 'studio-provider-StudioUserProfileFunctionArn' },
    DomainId: { 'Fn::GetAtt': ['Domain', 'DomainId'] },
    UserProfileName: 'alice',
    SingleSignOnUserIdentifier: 'UserName',
    SingleSignOnUserValue: 'alice@example.com',
    UserSettings: { JupyterLabAppSettings: { DefaultResourceSpec: { InstanceType: 'ml.t3.medium' } } },
    ForceDelete: false,
    ServiceTimeout: Match.absent(),
  });
  template.hasOutput('Arn', { Value: { 'Fn::GetAtt': ['Alice', 'UserProfileArn'] } });
  template.hasOutput('Uid', { Value: { 'Fn::GetAtt': ['Alice', 'HomeEfsFileSystemUid'] } });
});

test('StudioLifecycleConfig: commands, assets and staging members', () => {
  const s = stack();
  const config = new StudioLifecycleConfig(s, 'Setup', {
    provider,
    ServiceTimeout: Duration.minutes(15),
    StudioLifecycleConfigName: 'setup',
    StudioLifecycleConfigAppType: 'CodeEditor',
    Commands: ['echo ready'],
    Assets: [{ Name: 'tools', SourceBucket: 'sources', SourceKey: 'tools.zip', Exclude: ['*.pyc'] }],
    AssetBucket: 'staging',
    AssetPrefix: 'lcc',
    RetainAssets: true,
  });
  new CfnOutput(s, 'Arn', { value: config.studioLifecycleConfigArn });
  new CfnOutput(s, 'Sha', { value: config.attrContentSha256 });
  const template = Template.fromStack(s);
  template.hasResourceProperties('Custom::StudioLifecycleConfig', {
    ServiceToken: { 'Fn::ImportValue': 'studio-provider-StudioLifecycleConfigFunctionArn' },
    ServiceTimeout: '900',
    StudioLifecycleConfigName: 'setup',
    StudioLifecycleConfigAppType: 'CodeEditor',
    Commands: ['echo ready'],
    Assets: [{ Name: 'tools', SourceBucket: 'sources', SourceKey: 'tools.zip', Exclude: ['*.pyc'] }],
    AssetBucket: 'staging',
    AssetPrefix: 'lcc',
    RetainAssets: true,
    Script: Match.absent(),
  });
  template.hasOutput('Arn', { Value: { 'Fn::GetAtt': ['Setup', 'StudioLifecycleConfigArn'] } });
  template.hasOutput('Sha', { Value: { 'Fn::GetAtt': ['Setup', 'ContentSha256'] } });
});

test('StudioSpace: a private space of a profile, imported from <stack>-StudioSpaceFunctionArn', () => {
  const s = stack();
  const d = domain(s);
  const profile = new StudioUserProfile(s, 'Alice', { provider, DomainId: d.domainId, UserProfileName: 'alice' });
  const space = new StudioSpace(s, 'AliceSpace', {
    provider,
    DomainId: d.domainId,
    SpaceName: 'alice-space',
    SpaceDisplayName: 'Alice',
    OwnershipSettings: { OwnerUserProfileName: profile.userProfileName },
    SpaceSharingSettings: { SharingType: 'Private' },
    SpaceSettings: { AppType: 'JupyterLab', SpaceStorageSettings: { EbsStorageSettings: { EbsVolumeSizeInGb: 10 } } },
  });
  new CfnOutput(s, 'Url', { value: space.attrUrl });
  new CfnOutput(s, 'Arn', { value: space.spaceArn });
  const template = Template.fromStack(s);
  template.hasResourceProperties('Custom::StudioSpace', {
    ServiceToken: { 'Fn::ImportValue': 'studio-provider-StudioSpaceFunctionArn' },
    DomainId: { 'Fn::GetAtt': ['Domain', 'DomainId'] },
    SpaceName: 'alice-space',
    SpaceDisplayName: 'Alice',
    OwnershipSettings: { OwnerUserProfileName: { 'Fn::GetAtt': ['Alice', 'UserProfileName'] } },
    SpaceSharingSettings: { SharingType: 'Private' },
    SpaceSettings: { AppType: 'JupyterLab', SpaceStorageSettings: { EbsStorageSettings: { EbsVolumeSizeInGb: 10 } } },
  });
  template.hasOutput('Url', { Value: { 'Fn::GetAtt': ['AliceSpace', 'Url'] } });
  template.hasOutput('Arn', { Value: { 'Fn::GetAtt': ['AliceSpace', 'SpaceArn'] } });
});

test('the example stack wires the lifecycle config into the domain and the domain into the profiles', () => {
  const app = new App();
  const example = new StudioStack(app, 'StudioExample', { providerStackName: 'prov' });
  const template = Template.fromStack(example);
  template.resourceCountIs('Custom::StudioDomain', 1);
  template.resourceCountIs('Custom::StudioUserProfile', 2);
  template.resourceCountIs('Custom::StudioLifecycleConfig', 1);
  template.resourceCountIs('Custom::StudioSpace', 1);
  const arn = { 'Fn::GetAtt': ['LifecycleConfig', 'StudioLifecycleConfigArn'] };
  template.hasResourceProperties('Custom::StudioDomain', {
    ServiceToken: { 'Fn::ImportValue': 'prov-StudioDomainFunctionArn' },
    ServiceTimeout: '3600',
    VpcId: { Ref: 'VpcId' },
    SubnetIds: { Ref: 'SubnetIds' },
    DefaultUserSettings: Match.objectLike({
      JupyterLabAppSettings: Match.objectLike({
        LifecycleConfigArns: [arn],
        DefaultResourceSpec: { InstanceType: 'ml.t3.medium', LifecycleConfigArn: arn },
      }),
    }),
  });
  for (const user of ['alice', 'bob']) {
    template.hasResourceProperties('Custom::StudioUserProfile', {
      DomainId: { 'Fn::GetAtt': ['Domain', 'DomainId'] },
      UserProfileName: user,
    });
  }
  // alice inherits the domain's settings: no UserSettings at all.
  template.hasResourceProperties('Custom::StudioUserProfile', { UserProfileName: 'alice', UserSettings: Match.absent() });
  template.hasResourceProperties('Custom::StudioLifecycleConfig', {
    Assets: [Match.objectLike({ Name: 'testing', SourceKey: Match.stringLikeRegexp('^[0-9a-f]{64}\\.zip$') })],
    AssetBucket: { Ref: 'AssetBucket' },
  });
});
