"""Panels: one feature's controls and results, called from a page with a line or two (app/views/ stays short).

The heavy objects behind a panel are built once per server (st.cache_resource) and its results for a photo are
cached per photo (st.cache_data); nothing runs until a visitor switches the panel on.
"""


def panel_key(name: str, number: int, prediction) -> str:
    """A widget's key for one photo, as the Predict page makes them (app/views/predict.py: photo_key): a choice
    made for one photo is not carried over to the next one put in its place."""
    return f"{name}_{number}_{prediction.source}"
