// Who may use the archive: a Cognito user pool whose tokens carry the archive's scopes — read (QIDO,
// WADO, the AI worklist and results), write (STOW), delete, feedback (a reader's verdict on an AI
// result), govern (the AI analyser registry), audit (reading the audit trail) and export (de-identified
// exports) — checked on every API method. Nothing is public.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';

const SCOPES = {
  read: 'Search and retrieve (QIDO-RS, WADO-RS); read the AI worklist and results',
  write: 'Store (STOW-RS)',
  delete: 'Delete studies, series and instances',
  feedback: 'Accept, reject or correct an AI result',
  govern: 'Enable, disable and set the validation status of AI analysers',
  audit: 'Read the audit trail: who stored, searched, read, changed or deleted what, and when',
  export: 'Ask for de-identified exports of a cohort, and read their state and manifests',
} as const;
export type ScopeName = keyof typeof SCOPES;

/** How long an access token is valid; CloudFront keeps frames cached per token for no longer. */
export const ACCESS_TOKEN_LIFETIME = Duration.hours(1);

export interface AuthProps {
  viewerCallbackUrls: string[];
}

export class Auth extends Construct {
  readonly userPool: cognito.UserPool;
  readonly scopes: Record<ScopeName, cognito.OAuthScope>;
  readonly viewerClient: cognito.UserPoolClient;
  readonly systemClient: cognito.UserPoolClient;
  /** Cognito's hosted sign-in UI. */
  readonly signIn: cognito.UserPoolDomain;
  private readonly viewerCallbackUrls: string[];

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
      scopes: Object.entries(SCOPES).map(([scopeName, scopeDescription]) => new cognito.ResourceServerScope({ scopeName, scopeDescription })),
    });
    // Literal scope names ("dicomweb/read"), so that templates and API methods say what they check.
    this.scopes = Object.fromEntries(Object.keys(SCOPES).map((name) => [name, cognito.OAuthScope.custom(`dicomweb/${name}`)])) as Record<ScopeName, cognito.OAuthScope>;
    this.signIn = this.userPool.addDomain('SignIn', { cognitoDomain: { domainPrefix: `pacs-${this.node.addr.slice(0, 12)}` } });
    // A browser viewer (OHIF): authorization code with PKCE, no secret.
    this.viewerClient = this.userPool.addClient('Viewer', {
      generateSecret: false,
      oAuth: { flows: { authorizationCodeGrant: true }, scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, this.scopes.read, this.scopes.feedback], callbackUrls: props.viewerCallbackUrls },
      accessTokenValidity: ACCESS_TOKEN_LIFETIME,
      refreshTokenValidity: Duration.hours(12),
      preventUserExistenceErrors: true,
    });
    // Modalities, routers and scripts: client credentials with a secret.
    this.systemClient = this.userPool.addClient('Systems', {
      generateSecret: true,
      oAuth: { flows: { clientCredentials: true }, scopes: [this.scopes.read, this.scopes.write] },
      accessTokenValidity: ACCESS_TOKEN_LIFETIME,
    });
    // The clients name the resource server's scopes, so it must exist before them.
    this.viewerClient.node.addDependency(server);
    this.systemClient.node.addDependency(server);
    this.viewerCallbackUrls = [...props.viewerCallbackUrls];
  }

  /**
   * Lets the viewer the deployment serves at `site` sign in and out (known only once the distribution
   * exists, which depends on the API that depends on this pool).
   */
  allowViewerAt(site: string): void {
    const client = this.viewerClient.node.defaultChild as cognito.CfnUserPoolClient;
    client.callbackUrLs = [...this.viewerCallbackUrls, `${site}/callback`];
    client.logoutUrLs = [`${site}/`];
  }
}
