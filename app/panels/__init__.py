"""Panels: one feature's controls and results, called from a page with a line or two (app/views/ stays short).

The heavy objects behind a panel are built once per server (st.cache_resource) and its results for a photo are
cached per photo (st.cache_data); nothing runs until a visitor switches the panel on.
"""




def photo_key(name: str, number: int, prediction) -> str:
    """A widget's key for one photo, on the Predict page and in its panels: a choice made for one photo is not
    carried over to the next one put in its place (nor is the browser left showing that photo's option labels)."""
    return f"{name}_{number}_{prediction.source}"
