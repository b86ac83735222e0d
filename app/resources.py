"""What the whole server shares: built once, cached by Streamlit, used by every session."""

import streamlit as st

import resnet


@st.cache_resource(show_spinner="Building the network…", max_entries=8)
def model(name: str, **options):
    """A network of the table with random weights (for shapes, counts and diagrams), one per option set."""
    return resnet.build(name, **options)
