// Command bakc compiles a fleet's backup intent, written in HCL, into the
// NixOS modules, systemd units, NAS scripts and runbooks that carry it out,
// and is the runtime those units start.
package main

import "os"

func main() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
