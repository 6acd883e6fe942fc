/**
 * Typed CDK constructs for the studio custom resources deployed by the project's template.yaml.
 *
 * Resource properties keep the SageMaker API's member names (PascalCase), exactly as the
 * functions take them (see the README's "Resources"): a user who knows CreateDomain or
 * AWS::SageMaker::Domain knows these props. Nested API shapes (DefaultUserSettings,
 * SpaceSettings ...) are passed through as written; the function validates them and names the
 * full path of a bad member. `provider` is camelCase because it is not a resource property:
 * it says where the ServiceToken comes from.
 */
import { CustomResource, Duration, Fn } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** A nested SageMaker API shape, member names as in the API (e.g. UserSettings). */
export interface ApiShape {
  readonly [member: string]: unknown;
}

export interface Tag {
  readonly Key: string;
  readonly Value: string;
}

/**
 * The provider stack: the stack deployed from template.yaml, whose exports
 * `<stack>-Studio*FunctionArn` are the ServiceTokens.
 */
export class StudioProvider {
  /** The provider stack by name (e.g. `studio-custom-resources`). */
  static fromStackName(stackName: string): StudioProvider {
    return new StudioProvider(stackName);
  }

  private constructor(readonly stackName: string) {}

  /** Fn::ImportValue of `<stack>-<function>FunctionArn`, e.g. `StudioDomain`. */
  serviceToken(functionName: 'StudioDomain' | 'StudioUserProfile' | 'StudioLifecycleConfig' | 'StudioSpace'): string {
    return Fn.importValue(`${this.stackName}-${functionName}FunctionArn`);
  }
}

/** What every studio resource takes besides its API members. */
export interface StudioResourceProps {
  /** Where the ServiceToken is imported from. */
  readonly provider: StudioProvider;
  /** How long CloudFormation waits for the function's answer (1 s to 1 h; CloudFormation's default is 1 h). */
  readonly ServiceTimeout?: Duration;
}

/** The custom resource behind each construct: the ServiceToken and properties, Data by name. */
abstract class StudioResource<Data extends string> extends Construct {
  /** The underlying custom resource (for dependencies, removal policies ...). */
  readonly resource: CustomResource;

  protected constructor(
    scope: Construct,
    id: string,
    kind: 'StudioDomain' | 'StudioUserProfile' | 'StudioLifecycleConfig' | 'StudioSpace',
    props: StudioResourceProps,
  ) {
    super(scope, id);
    const { provider, ServiceTimeout, ...members } = props;
    // Unset optional members are left out: the function applies its defaults.
    const properties = Object.fromEntries(Object.entries(members).filter(([, value]) => value !== undefined));
    // 'Default': the logical id is the construct's own (e.g. Domain), as for a plain CustomResource.
    this.resource = new CustomResource(this, 'Default', {
      resourceType: `Custom::${kind}`,
      serviceToken: provider.serviceToken(kind),
      serviceTimeout: ServiceTimeout,
      properties,
    });
  }

  /** Fn::GetAtt of one of the resource's Data attributes. */
  getAtt(attribute: Data): string {
    return this.resource.getAttString(attribute);
  }

  /** The PhysicalResourceId (DomainId, UserProfileArn, SpaceArn or the config's ARN). */
  get ref(): string {
    return this.resource.ref;
  }
}

// ---------------------------------------------------------------- StudioDomain

export interface StudioDomainProps extends StudioResourceProps {
  readonly DomainName: string;
  readonly AuthMode: 'IAM' | 'SSO';
  readonly DefaultUserSettings: ApiShape;
  readonly SubnetIds: string[];
  readonly VpcId: string;
  readonly AppNetworkAccessType?: 'PublicInternetOnly' | 'VpcOnly';
  readonly AppSecurityGroupManagement?: 'Service' | 'Customer';
  readonly DefaultSpaceSettings?: ApiShape;
  readonly DomainSettings?: ApiShape;
  readonly KmsKeyId?: string;
  readonly TagPropagation?: 'ENABLED' | 'DISABLED';
  /** Disabled: no home EFS (Disabled -> Enabled in place; Enabled -> Disabled needs a new domain). */
  readonly HomeEfsFileSystemCreation?: 'Enabled' | 'Disabled';
  /** At most 40 (the function keeps up to 10 tags of its own on a domain). */
  readonly Tags?: Tag[];
  /** What DeleteDomain does with the home EFS (default Retain). */
  readonly RetentionPolicy?: { readonly HomeEfsFileSystem: 'Retain' | 'Delete' };
  /** Delete the domain's spaces and user profiles with it (default false). */
  readonly ForceDelete?: boolean;
  /** Allow a change that needs a new domain (and a new home EFS) (default false). */
  readonly AllowReplacement?: boolean;
  /** With RetentionPolicy Delete, delete the NFS security groups SageMaker made (default true). */
  readonly DeleteNfsSecurityGroups?: boolean;
  /** SSO domains: IAM Identity Center user names assigned to the domain's application. */
  readonly SingleSignOnUsers?: string[];
  /** SSO domains: IAM Identity Center group display names assigned to the domain's application. */
  readonly SingleSignOnGroups?: string[];
  /** Stack-name patterns (`*` wildcard) of other stacks that may put user profiles and spaces into the domain. */
  readonly AllowedChildStacks?: string[];
}

export type StudioDomainData =
  | 'DomainId'
  | 'DomainArn'
  | 'Url'
  | 'HomeEfsFileSystemId'
  | 'SecurityGroupIdForDomainBoundary'
  | 'SingleSignOnApplicationArn';

/** `Custom::StudioDomain`: a SageMaker Studio domain. */
export class StudioDomain extends StudioResource<StudioDomainData> {
  constructor(scope: Construct, id: string, props: StudioDomainProps) {
    super(scope, id, 'StudioDomain', props);
  }
  get domainId(): string {
    return this.getAtt('DomainId');
  }
  get domainArn(): string {
    return this.getAtt('DomainArn');
  }
  get attrUrl(): string {
    return this.getAtt('Url');
  }
  get attrHomeEfsFileSystemId(): string {
    return this.getAtt('HomeEfsFileSystemId');
  }
  get attrSecurityGroupIdForDomainBoundary(): string {
    return this.getAtt('SecurityGroupIdForDomainBoundary');
  }
  /** SSO domains only. */
  get attrSingleSignOnApplicationArn(): string {
    return this.getAtt('SingleSignOnApplicationArn');
  }
}

// ---------------------------------------------------------------- StudioUserProfile

export interface StudioUserProfileProps extends StudioResourceProps {
  readonly DomainId: string;
  readonly UserProfileName: string;
  /** SSO domains only (then required): "UserName". */
  readonly SingleSignOnUserIdentifier?: 'UserName';
  /** SSO domains only (then required): the IAM Identity Center user name. */
  readonly SingleSignOnUserValue?: string;
  readonly UserSettings?: ApiShape;
  readonly Tags?: Tag[];
  /** Delete the spaces the profile owns with it (default false). */
  readonly ForceDelete?: boolean;
}

export type StudioUserProfileData = 'UserProfileArn' | 'UserProfileName' | 'DomainId' | 'HomeEfsFileSystemUid';

/** `Custom::StudioUserProfile`: a user profile of a Studio domain. */
export class StudioUserProfile extends StudioResource<StudioUserProfileData> {
  constructor(scope: Construct, id: string, props: StudioUserProfileProps) {
    super(scope, id, 'StudioUserProfile', props);
  }
  get userProfileArn(): string {
    return this.getAtt('UserProfileArn');
  }
  get userProfileName(): string {
    return this.getAtt('UserProfileName');
  }
  get attrDomainId(): string {
    return this.getAtt('DomainId');
  }
  get attrHomeEfsFileSystemUid(): string {
    return this.getAtt('HomeEfsFileSystemUid');
  }
}

// ---------------------------------------------------------------- StudioLifecycleConfig

export interface LifecycleAsset {
  readonly Name: string;
  readonly SourceBucket: string;
  /** A zip object. */
  readonly SourceKey: string;
  /** Globs of files left out. */
  readonly Exclude?: string[];
}

export interface StudioLifecycleConfigProps extends StudioResourceProps {
  /** Base name (at most 52 characters); the config's name is base + "-" + a content hash. */
  readonly StudioLifecycleConfigName: string;
  readonly StudioLifecycleConfigAppType: 'JupyterServer' | 'KernelGateway' | 'JupyterLab' | 'CodeEditor';
  /** Shell commands (or `Script`). */
  readonly Commands?: string[];
  /** A whole script (or `Commands`). */
  readonly Script?: string;
  /** Zips staged to S3 and copied to $ASSETS_DIR/<Name> before the commands run. */
  readonly Assets?: LifecycleAsset[];
  readonly AssetBucket?: string;
  /** Default lifecycle-assets. */
  readonly AssetPrefix?: string;
  /** Keep the staged assets when the config is deleted (default false). */
  readonly RetainAssets?: boolean;
  readonly Tags?: Tag[];
}

export type StudioLifecycleConfigData =
  | 'StudioLifecycleConfigArn'
  | 'StudioLifecycleConfigName'
  | 'AssetsS3Uri'
  | 'ContentSha256';

/** `Custom::StudioLifecycleConfig`: a Studio lifecycle config with assets staged to S3. */
export class StudioLifecycleConfig extends StudioResource<StudioLifecycleConfigData> {
  constructor(scope: Construct, id: string, props: StudioLifecycleConfigProps) {
    super(scope, id, 'StudioLifecycleConfig', props);
  }
  get studioLifecycleConfigArn(): string {
    return this.getAtt('StudioLifecycleConfigArn');
  }
  get attrStudioLifecycleConfigName(): string {
    return this.getAtt('StudioLifecycleConfigName');
  }
  get attrAssetsS3Uri(): string {
    return this.getAtt('AssetsS3Uri');
  }
  get attrContentSha256(): string {
    return this.getAtt('ContentSha256');
  }
}

// ---------------------------------------------------------------- StudioSpace

export interface StudioSpaceProps extends StudioResourceProps {
  readonly DomainId: string;
  readonly SpaceName: string;
  readonly SpaceDisplayName?: string;
  readonly SpaceSettings?: ApiShape;
  /** Private spaces: the owning user profile (fixed at creation). */
  readonly OwnershipSettings?: { readonly OwnerUserProfileName: string };
  /** Fixed at creation. */
  readonly SpaceSharingSettings?: { readonly SharingType: 'Private' | 'Shared' };
  readonly Tags?: Tag[];
}

export type StudioSpaceData = 'SpaceArn' | 'SpaceName' | 'DomainId' | 'Url' | 'HomeEfsFileSystemUid';

/** `Custom::StudioSpace`: a shared or private Studio space. */
export class StudioSpace extends StudioResource<StudioSpaceData> {
  constructor(scope: Construct, id: string, props: StudioSpaceProps) {
    super(scope, id, 'StudioSpace', props);
  }
  get spaceArn(): string {
    return this.getAtt('SpaceArn');
  }
  get spaceName(): string {
    return this.getAtt('SpaceName');
  }
  get attrDomainId(): string {
    return this.getAtt('DomainId');
  }
  get attrUrl(): string {
    return this.getAtt('Url');
  }
  /** When SageMaker reports it. */
  get attrHomeEfsFileSystemUid(): string {
    return this.getAtt('HomeEfsFileSystemUid');
  }
}
