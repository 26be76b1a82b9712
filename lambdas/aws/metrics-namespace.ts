/** The CloudWatch namespace of the archive's own metrics (emitted by the functions, alarmed on by the CDK app). */
export const METRICS_NAMESPACE = 'ServerlessPacs';
