import * as path from 'path';
import { CfnOutput, CfnParameter, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { StudioDomain, StudioLifecycleConfig, StudioProvider, StudioSpace, StudioUserProfile } from './studio';

export interface StudioStackProps extends StackProps {
  /** The stack deployed from the project's template.yaml: its exports are the ServiceTokens. */
  readonly providerStackName: string;
}

/**
 * The same stack as examples/cloudformation/studio.yaml, in CDK: a VpcOnly IAM domain, two user
 * profiles and a JupyterLab lifecycle config whose asset directory CDK uploads as a zip.
 *
 * The provider stack must allow the lifecycle function to read the CDK assets bucket: include
 * cdk-hnb659fds-assets-<account>-<region> in its AssetSourceBucketNames parameter.
 */
export class StudioStack extends Stack {
  constructor(scope: Construct, id: string, props: StudioStackProps) {
    super(scope, id, props);

    // Inputs as parameters rather than lookups, so that synthesis stays offline.
    const vpcId = new CfnParameter(this, 'VpcId', { type: 'AWS::EC2::VPC::Id' });
    const subnetIds = new CfnParameter(this, 'SubnetIds', {
      type: 'List<AWS::EC2::Subnet::Id>',
      description: 'Private subnets for Studio apps',
    });
    const executionRoleArn = new CfnParameter(this, 'ExecutionRoleArn', {
      type: 'String',
      allowedPattern: '^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$',
      description: "Execution role of Studio apps; one of the provider stack's StudioExecutionRoleArns",
    });
    const assetBucket = new CfnParameter(this, 'AssetBucket', {
      type: 'String',
      description: "Bucket the assets are staged to; the provider stack's AssetBucketName",
    });

    const provider = StudioProvider.fromStackName(props.providerStackName);

    // VpcOnly: NFS to the home EFS and app-to-app traffic within the group; HTTPS out.
    const securityGroup = new ec2.CfnSecurityGroup(this, 'StudioSecurityGroup', {
      groupDescription: 'SageMaker Studio apps of the example domain',
      vpcId: vpcId.valueAsString,
      securityGroupEgress: [
        { description: 'HTTPS to VPC endpoints and AWS APIs', ipProtocol: 'tcp', fromPort: 443, toPort: 443, cidrIp: '0.0.0.0/0' },
      ],
    });
    for (const [name, fromPort, toPort] of [['Nfs', 2049, 2049], ['Apps', 8192, 65535]] as const) {
      const rule = { ipProtocol: 'tcp', fromPort, toPort, description: `Studio ${name.toLowerCase()} traffic` };
      new ec2.CfnSecurityGroupIngress(this, `Studio${name}Ingress`, {
        ...rule,
        groupId: securityGroup.attrGroupId,
        sourceSecurityGroupId: securityGroup.attrGroupId,
      });
      new ec2.CfnSecurityGroupEgress(this, `Studio${name}Egress`, {
        ...rule,
        groupId: securityGroup.attrGroupId,
        destinationSecurityGroupId: securityGroup.attrGroupId,
      });
    }

    // CDK zips the directory and uploads it to the bootstrap assets bucket at deploy time.
    const asset = new Asset(this, 'TestingAsset', {
      path: path.join(__dirname, '..', 'assets', 'testing'),
      exclude: ['*.pyc', '__pycache__'],
    });

    const lifecycleConfig = new StudioLifecycleConfig(this, 'LifecycleConfig', {
      provider,
      ServiceTimeout: Duration.minutes(15),
      StudioLifecycleConfigName: 'jupyterlab-setup',
      StudioLifecycleConfigAppType: 'JupyterLab',
      Assets: [{ Name: 'testing', SourceBucket: asset.s3BucketName, SourceKey: asset.s3ObjectKey }],
      AssetBucket: assetBucket.valueAsString,
      Commands: ['echo "testing jupyterlab (Studio Latest)"', 'sh "$ASSETS_DIR/testing/test.sh"'],
      Tags: [{ Key: 'project', Value: 'ml-studio' }],
    });
    const lifecycleConfigArn = lifecycleConfig.studioLifecycleConfigArn;

    const domain = new StudioDomain(this, 'Domain', {
      provider,
      ServiceTimeout: Duration.hours(1),
      DomainName: 'ml-studio',
      AuthMode: 'IAM',
      AppNetworkAccessType: 'VpcOnly',
      VpcId: vpcId.valueAsString,
      SubnetIds: subnetIds.valueAsList,
      DefaultUserSettings: {
        ExecutionRole: executionRoleArn.valueAsString,
        SecurityGroups: [securityGroup.attrGroupId],
        StudioWebPortal: 'ENABLED',
        DefaultLandingUri: 'studio::',
        JupyterLabAppSettings: {
          LifecycleConfigArns: [lifecycleConfigArn],
          DefaultResourceSpec: { InstanceType: 'ml.t3.medium', LifecycleConfigArn: lifecycleConfigArn },
          AppLifecycleManagement: {
            IdleSettings: { LifecycleManagement: 'ENABLED', IdleTimeoutInMinutes: 60 },
          },
        },
      },
      DefaultSpaceSettings: {
        ExecutionRole: executionRoleArn.valueAsString,
        SecurityGroups: [securityGroup.attrGroupId],
      },
      RetentionPolicy: { HomeEfsFileSystem: 'Retain' },
      Tags: [{ Key: 'project', Value: 'ml-studio' }],
    });

    // IAM mode: no SingleSignOn* properties. alice inherits the domain's DefaultUserSettings;
    // bob gets a longer idle timeout.
    const profiles: Array<[string, Record<string, unknown> | undefined]> = [
      ['alice', undefined],
      ['bob', { JupyterLabAppSettings: { AppLifecycleManagement: { IdleSettings: { LifecycleManagement: 'ENABLED', IdleTimeoutInMinutes: 120 } } } }],
    ];
    for (const [user, userSettings] of profiles) {
      const id = `${user[0].toUpperCase()}${user.slice(1)}Profile`;
      const profile = new StudioUserProfile(this, id, {
        provider,
        ServiceTimeout: Duration.minutes(30),
        DomainId: domain.domainId,
        UserProfileName: user,
        UserSettings: userSettings,
        Tags: [{ Key: 'owner', Value: user }],
      });
      new CfnOutput(this, `${id}Arn`, { value: profile.userProfileArn });
    }

    // A shared team space (JupyterLab, 50 GB EBS; the size may only grow).
    const teamSpace = new StudioSpace(this, 'TeamSpace', {
      provider,
      ServiceTimeout: Duration.minutes(30),
      DomainId: domain.domainId,
      SpaceName: 'team',
      SpaceDisplayName: 'Team space',
      SpaceSharingSettings: { SharingType: 'Shared' },
      SpaceSettings: {
        AppType: 'JupyterLab',
        SpaceStorageSettings: { EbsStorageSettings: { EbsVolumeSizeInGb: 50 } },
        JupyterLabAppSettings: { AppLifecycleManagement: { IdleSettings: { IdleTimeoutInMinutes: 60 } } },
      },
      Tags: [{ Key: 'team', Value: 'ml-studio' }],
    });
    new CfnOutput(this, 'TeamSpaceArn', { value: teamSpace.spaceArn });

    new CfnOutput(this, 'DomainId', { value: domain.domainId });
    new CfnOutput(this, 'DomainUrl', { value: domain.attrUrl });
    new CfnOutput(this, 'LifecycleConfigArn', { value: lifecycleConfigArn });
    new CfnOutput(this, 'AssetsS3Uri', { value: lifecycleConfig.attrAssetsS3Uri });
  }
}
