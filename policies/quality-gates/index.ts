/** The quality-gates pack: only constructs the PolicyPack (constructing it starts the policy server). */
import { PolicyPack } from "@pulumi/policy";
import { qualityGatePolicies } from "./policies";
import { releasePolicies } from "./release";

new PolicyPack("bizra-quality-gates", { policies: [...qualityGatePolicies, ...releasePolicies] });
