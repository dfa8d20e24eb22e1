"""The wove-batch policy pack: every policy of wove_batch.policies, with its enforcement level."""

from pulumi_policy import PolicyPack

from wove_batch.policies import policy_pack_policies

PolicyPack(name="wove-batch", policies=policy_pack_policies())
