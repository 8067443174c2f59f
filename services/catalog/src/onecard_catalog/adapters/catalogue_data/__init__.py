"""The application catalogues of the seed documents, extracted into JSON (see README.md).

`extract` regenerates the JSON files from the seed texts; `loader` reads them at run time.
"""
