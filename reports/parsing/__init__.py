"""Parsers for Puppet reports as the ``http`` report processor sends them (Ruby-tagged YAML,
report formats 4-12) and as Puppet's JSON (``to_data_hash``) writes them. Both are converted to
PuppetDB's ``store report`` v8 wire shape, so they feed the same pipeline as the command API."""

from reports.parsing.puppet_report import ReportParseError, parse_report_body, puppet_report_to_wire
from reports.parsing.yaml_loader import load_yaml

__all__ = ["ReportParseError", "load_yaml", "parse_report_body", "puppet_report_to_wire"]
