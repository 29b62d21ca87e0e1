/** Shapes shared by the custom resources the program registers. Checked against the real CRD schemas by
 * tests/crd-schema.test.ts, so a field written here but unknown to the CRD fails a test. */

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

/** A whole custom resource as it is sent to the API server. */
export interface CustomResourceObject<Kind extends string, Spec> {
  readonly apiVersion: string;
  readonly kind: Kind;
  readonly metadata: ObjectMeta;
  readonly spec: Spec;
}

export interface LabelSelector {
  readonly matchLabels?: Record<string, string>;
}
