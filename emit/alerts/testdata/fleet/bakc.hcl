# The fleet of the promtool tests (promtool_test.go): one node whose
# jobs run daily, hourly and weekly, and one job that fails for real.
defaults {
  retention {
    daily = 7
  }

  monitoring {
    grace = "1h"
  }
}
