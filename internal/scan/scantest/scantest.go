// Package scantest builds what scan tests need offline: a tiny Trivy
// vulnerability database (BoltDB buckets and metadata.json, the layout
// Trivy's own test fixtures write) and the files of an Alpine image that
// declares packages, to put in a test image's layer.
package scantest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AlpineRelease is the Alpine version the test images claim to be.
const AlpineRelease = "3.20.3"

// stream is the database bucket of AlpineRelease.
const stream = "alpine 3.20"

// Advisory is one vulnerability of one Alpine package.
type Advisory struct {
	ID       string // CVE-...
	Package  string
	Fixed    string // the first version without it
	Severity string // LOW ... CRITICAL
	Title    string
}

// Package is an installed Alpine package.
type Package struct {
	Name, Version string
}

// WriteDB writes a Trivy cache folder at dir (db/trivy.db and
// db/metadata.json) that knows the advisories, for
// `trivy --cache-dir dir --skip-db-update`.
func WriteDB(dir string, advisories []Advisory) error {
	dbDir := filepath.Join(dir, "db")
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		return err
	}
	db, err := bolt.Open(filepath.Join(dbDir, "trivy.db"), 0o644, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("creating trivy.db: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		ds, err := tx.CreateBucketIfNotExists([]byte("data-source"))
		if err != nil {
			return err
		}
		if err := putJSON(ds, stream, map[string]string{"ID": "alpine", "Name": "Alpine Secdb", "URL": "https://secdb.alpinelinux.org/"}); err != nil {
			return err
		}
		vulns, err := tx.CreateBucketIfNotExists([]byte("vulnerability"))
		if err != nil {
			return err
		}
		osb, err := tx.CreateBucketIfNotExists([]byte(stream))
		if err != nil {
			return err
		}
		for _, a := range advisories {
			pb, err := osb.CreateBucketIfNotExists([]byte(a.Package))
			if err != nil {
				return err
			}
			if err := putJSON(pb, a.ID, map[string]string{"FixedVersion": a.Fixed}); err != nil {
				return err
			}
			if err := putJSON(vulns, a.ID, map[string]any{"Title": a.Title, "Description": a.Title, "Severity": a.Severity}); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing trivy.db: %w", err)
	}
	now := time.Now().UTC()
	meta, _ := json.Marshal(map[string]any{"Version": 2, "NextUpdate": now.Add(24 * time.Hour * 365), "UpdatedAt": now, "DownloadedAt": now})
	return os.WriteFile(filepath.Join(dbDir, "metadata.json"), meta, 0o644)
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), raw)
}

// AlpineFiles are the files (path → content) that make an image an
// Alpine AlpineRelease image with pkgs installed, as Trivy reads them.
func AlpineFiles(pkgs []Package) map[string]string {
	var db strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&db, "P:%s\nV:%s\nA:x86_64\no:%s\nL:MIT\nT:%s for tests\n\n", p.Name, p.Version, p.Name, p.Name)
	}
	return map[string]string{
		"etc/alpine-release":   AlpineRelease + "\n",
		"etc/os-release":       "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=" + AlpineRelease + "\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
		"lib/apk/db/installed": db.String(),
	}
}
