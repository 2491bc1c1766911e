"""The application around the library: the `autograd-mini` command, the registry of the documents'
experiments, the audits of their hand rules, training plots and run output.

It imports the core (`autograd_mini`) and, to fill its registry, the models (`autograd_mini.models`);
the core never imports it.
"""
