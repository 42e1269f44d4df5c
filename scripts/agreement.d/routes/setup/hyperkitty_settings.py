# HyperKitty's own test settings, with the app's urlconf as the root (the test settings root a
# test urlconf that includes it), so the truth is the app's route table.
from hyperkitty.tests.settings_test import *  # noqa: F401,F403

ROOT_URLCONF = "hyperkitty.urls"
