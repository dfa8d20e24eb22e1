"""The offline tools: `python -m wove_batch check|plan` over a `Pulumi.<stack>.yaml`, and the
mocks engine that runs the real stack program without the Pulumi CLI."""
