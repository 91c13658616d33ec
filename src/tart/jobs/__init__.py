"""Jobs on the user's files: `tart fit` (a saved classifier from a labelled table or class
folders) and `tart predict` (label tables or folders of media in resumable chunks, on this machine or
on Ray). `files` reads and writes the files, `predictor` labels batches of raw items, `local` runs a
job on this machine, `ray_engine` on a Ray cluster, `fit` builds the classifier, `bench` times it.
"""
