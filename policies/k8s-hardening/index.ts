/** The k8s-hardening pack: only constructs the PolicyPack (constructing it starts the policy server). */
import { PolicyPack } from "@pulumi/policy";
import { hardeningPolicies } from "./hardening";

new PolicyPack("bizra-k8s-hardening", { policies: hardeningPolicies });
