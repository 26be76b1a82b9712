// Who may use the archive: a Cognito user pool whose tokens carry the DICOMweb scopes — read (QIDO,
// WADO), write (STOW) and delete — checked on every API method. Nothing is public.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';

export const SCOPE_NAMES = { read: 'dicomweb.read', write: 'dicomweb.write', delete: 'dicomweb.delete' } as const;

export interface AuthProps {
  viewerCallbackUrls: string[];
}

export class Auth extends Construct {
  readonly userPool: cognito.UserPool;
  readonly scopes: Record<keyof typeof SCOPE_NAMES, cognito.OAuthScope>;
  readonly viewerClient: cognito.UserPoolClient;
  readonly systemClient: cognito.UserPoolClient;

  constructor(scope: Construct, id: string, props: AuthProps) {
    super(scope, id);
    this.userPool = new cognito.UserPool(this, 'Users', {
      selfSignUpEnabled: false, // administrators add users (see the deploy guide)
      signInAliases: { email: true },
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: { minLength: 14, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      featurePlan: cognito.FeaturePlan.PLUS,
      standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const server = this.userPool.addResourceServer('DicomWeb', {
      identifier: 'dicomweb',
      scopes: [
        new cognito.ResourceServerScope({ scopeName: 'read', scopeDescription: 'Search and retrieve (QIDO-RS, WADO-RS)' }),
        new cognito.ResourceServerScope({ scopeName: 'write', scopeDescription: 'Store (STOW-RS)' }),
        new cognito.ResourceServerScope({ scopeName: 'delete', scopeDescription: 'Delete studies, series and instances' }),
      ],
    });
    // Literal scope names ("dicomweb/read"), so that templates and API methods say what they check.
    this.scopes = { read: cognito.OAuthScope.custom('dicomweb/read'), write: cognito.OAuthScope.custom('dicomweb/write'), delete: cognito.OAuthScope.custom('dicomweb/delete') };
    this.userPool.addDomain('SignIn', { cognitoDomain: { domainPrefix: `pacs-${this.node.addr.slice(0, 12)}` } });
    // A browser viewer (OHIF): authorization code with PKCE, no secret.
    this.viewerClient = this.userPool.addClient('Viewer', {
      generateSecret: false,
      oAuth: { flows: { authorizationCodeGrant: true }, scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, this.scopes.read], callbackUrls: props.viewerCallbackUrls },
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.hours(12),
      preventUserExistenceErrors: true,
    });
    // Modalities, routers and scripts: client credentials with a secret.
    this.systemClient = this.userPool.addClient('Systems', {
      generateSecret: true,
      oAuth: { flows: { clientCredentials: true }, scopes: [this.scopes.read, this.scopes.write] },
      accessTokenValidity: Duration.hours(1),
    });
    // The clients name the resource server's scopes, so it must exist before them.
    this.viewerClient.node.addDependency(server);
    this.systemClient.node.addDependency(server);
  }
}
