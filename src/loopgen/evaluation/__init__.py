"""Evaluation of both systems: the papers' metrics, tables and figures.

Kept import-free on purpose: each module (prdc, embeddings, symbolic, ...) imports its own heavy
dependencies, so importing one evaluation module never pulls in torch for another.
"""
