"""Runs Eclipse Paho's MQTT 3.1.1 interoperability suite (`client_test.py`, vendored in
vendor/paho.mqtt.testing) against a broker on `localhost:PORT`.

The suite's own option handling passes every option on to unittest, which then refuses
them (vendor/paho.mqtt.testing/BROKERLAB.md), so this gives the suite only `-p PORT` and
unittest only `-v` and the test names.

Usage: python3 -B paho_client_test311.py SUITE_DIR PORT [Test.name ...]"""

import os
import runpy
import sys
import unittest

suite_dir, port, names = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path.insert(0, suite_dir)
original = unittest.main
unittest.main = lambda *args, **kwargs: original(
    *args, **{**kwargs, "argv": [sys.argv[0], "-v", *names]})
sys.argv = [sys.argv[0], "-p", port]
runpy.run_path(os.path.join(suite_dir, "client_test.py"), run_name="__main__")
