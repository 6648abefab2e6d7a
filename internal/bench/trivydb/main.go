// Command trivydb writes a tiny offline Trivy cache folder (db/trivy.db and
// db/metadata.json) for the scan benchmark: trivydb DIR.
package main

import (
	"fmt"
	"os"

	"github.com/slipway-build/slipway/internal/scan/scantest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: trivydb DIR")
		os.Exit(2)
	}
	adv := []scantest.Advisory{{ID: "CVE-2099-0001", Package: "libfoo", Fixed: "1.2.4-r2", Severity: "HIGH", Title: "benchmark advisory"}}
	if err := scantest.WriteDB(os.Args[1], adv); err != nil {
		fmt.Fprintln(os.Stderr, "trivydb:", err)
		os.Exit(1)
	}
}
