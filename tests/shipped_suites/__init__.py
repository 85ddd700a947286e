"""Tests of the suite files shipped in suites/ (tests/suite/ tests the suite package: schema, loader, plan)."""
