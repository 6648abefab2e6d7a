package promote

import (
	"fmt"
	"io"
	"maps"
	"slices"
)

func (pl *plan) result() *Result {
	res := &Result{plan: pl}
	for i, img := range pl.images {
		top := pl.tops[i]
		c := Copied{Image: img, Digest: top.digest, MediaType: string(top.mediaType), PlatformDigests: pl.platforms[i], Verified: pl.verified}
		for _, t := range img.Tags {
			c.Pushed = append(c.Pushed, img.Dest.Tag(t).String()+"@"+top.digest.String())
		}
		for _, t := range pl.tags {
			if t.owner != i || t.image {
				continue
			}
			switch t.node.kind {
			case kindSignature:
				c.Signatures = append(c.Signatures, t.ref.String())
			case kindAttestation:
				c.Attestations = append(c.Attestations, t.ref.String())
			case kindSBOM:
				c.SBOMs = append(c.SBOMs, t.ref.String())
			}
		}
		for _, n := range pl.nodes {
			if n.owner != i {
				continue
			}
			if n.present {
				c.ManifestsPresent++
			} else {
				c.Manifests++
			}
			if n.kind == kindReferrer {
				c.Referrers = append(c.Referrers, n.dst.Digest(n.digest.String()).String())
			}
		}
		if pl.copied != nil {
			k := pl.copied[i]
			c.BlobsUploaded, c.BlobsMounted, c.BlobsSkipped, c.BytesUploaded = k.uploaded, k.mounted, k.skipped, k.bytes
		} else {
			for _, b := range pl.blobs {
				switch {
				case b.owner != i:
				case b.present:
					c.BlobsSkipped++
				case b.mount():
					c.BlobsMounted++
				default:
					c.BlobsUploaded++
					c.BytesUploaded += b.desc.Size
				}
			}
		}
		res.Images = append(res.Images, c)
	}
	return res
}

// WritePlan describes what the run copies (or copied): per image the
// manifests, the blobs with their sizes and how they travel, and the
// counts of signatures, attestations, SBOMs and referrers.
func (r *Result) WritePlan(w io.Writer) error {
	pl := r.plan
	var err error
	pr := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format+"\n", args...)
		}
	}
	for i, c := range r.Images {
		label := c.Name
		if label == "" {
			label = c.Source.Context().String()
		}
		pr("%s: %s -> %s", label, c.Source, c.Dest)
		for _, t := range pl.tags {
			if t.owner != i || !t.image {
				continue
			}
			state := "new"
			switch {
			case t.unchanged():
				state = "unchanged"
			case t.has != nil:
				state = "moves from " + t.has.String()
			}
			pr("  tag %s (%s)", t.ref.TagStr(), state)
		}
		for _, n := range pl.nodes {
			if n.owner != i {
				continue
			}
			state := "copy"
			if !n.needsPut() {
				state = "present"
			} else if n.present {
				state = "list"
			}
			pr("  manifest %s %s %s (%s)", n.digest, n.kind, n.mediaType, state)
		}
		for _, b := range pl.blobs {
			if b.owner != i {
				continue
			}
			state := "stream"
			switch {
			case b.present:
				state = "present"
			case b.mount():
				state = "mount"
			}
			pr("  blob %s %s (%s)", b.desc.Digest, humanBytes(b.desc.Size), state)
		}
		plats := slices.Sorted(maps.Keys(c.PlatformDigests))
		pr("  platforms %d %v, signatures %d, attestations %d, sboms %d, referrers %d",
			len(plats), plats, len(c.Signatures), len(c.Attestations), len(c.SBOMs), len(c.Referrers))
		pr("  to copy: %d manifests (%d present), %d blobs streamed (%s), %d mounted, %d present",
			c.Manifests, c.ManifestsPresent, c.BlobsUploaded, humanBytes(c.BytesUploaded), c.BlobsMounted, c.BlobsSkipped)
	}
	return err
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
