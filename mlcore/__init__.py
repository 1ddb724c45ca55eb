"""ThyroWeb machine-learning core: schema, readers, model, training and prediction.

Plain Python with no Django imports. Importing the package does no work: each
stage lives in its own module (``mlcore.schema``, ``mlcore.data``,
``mlcore.preprocessing``, ``mlcore.model``, ``mlcore.train``,
``mlcore.evaluate``, ``mlcore.explain``, ``mlcore.predictor``) and is
imported where it is needed.
"""
