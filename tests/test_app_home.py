"""The overview page in Streamlit's AppTest: it builds the chosen network and shows its real parameter count."""

from streamlit.testing.v1 import AppTest

import resnet


def test_overview_shows_the_chosen_network_and_its_parameters():
    at = AppTest.from_file("../app/views/home.py", default_timeout=60).run()
    assert not at.exception
    assert at.metric[0].value == f"{resnet.build('resnet50').count_params():,}" == "25,636,712"
    at.selectbox[0].set_value("resnet20").run()
    assert not at.exception
    assert at.metric[0].value == f"{resnet.build('resnet20').count_params():,}" == "271,098"
    assert len(at.dataframe[0].value) == len(resnet.ARCHITECTURES)
