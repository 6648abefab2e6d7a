package manifest

import (
	"strconv"

	"github.com/google/go-containerregistry/pkg/name"
)

// kustomization rewrites the images: entries of a kustomization (or
// component) whose image (newName, or name when there is none) is one of
// ours: newTag and digest as the pin asks, newName only when the image moves
// to another repository.
func (r *rewriter) kustomization(m *node, obj string) error {
	imgs := mapValue(m, "images")
	if imgs == nil || imgs.kind != seqNode {
		return nil
	}
	for i, en := range imgs.content {
		e := resolve(en)
		if e == nil || e.kind != mapNode {
			continue
		}
		nameK, nameV, nameDirect := mapGet(e, "name")
		nm := scalarValue(nameV)
		if nm == "" || !nameDirect {
			continue
		}
		nnK, nnV, nnDirect := mapGet(e, "newName")
		eff := nm
		if s := scalarValue(nnV); s != "" {
			eff = s
		}
		// The entry's image is newName when set, else name: like a
		// container's image, it matches by repository.
		t, ok := r.lookupRef(eff)
		if !ok {
			continue
		}
		prefix := "images[" + strconv.Itoa(i) + "]."
		w := func(field string) where { return where{object: obj, field: prefix + field} }
		// after is the pair new keys go after: the last of name, newName,
		// newTag present in the entry.
		afterK, afterV := nameK, nameV
		if sameRepo(eff, t.img.Repository) {
			if nnDirect && scalarValue(nnV) != "" {
				afterK, afterV = nnK, nnV
			}
		} else if nnDirect && resolve(nnV).kind == scalarNode {
			if _, err := r.set(resolve(nnV), nnK, t.newRepo, w("newName")); err != nil {
				return err
			}
			afterK, afterV = nnK, nnV
		} else if err := r.insert(e, nameK, nameV, "newName", t.newRepo, quoteStyle(nameV), w("newName")); err != nil {
			return err
		}
		tag, digest, err := r.c.parts(t)
		if err != nil {
			return &lineError{line: nameV.line, err: err}
		}
		for _, f := range []struct{ key, v string }{{"newTag", tag}, {"digest", digest}} {
			k, v, direct := mapGet(e, f.key)
			cur := resolve(v)
			switch {
			case f.v == "" && direct && scalarValue(cur) != "":
				if err := r.remove(e, k, v, w(f.key)); err != nil {
					return err
				}
			case f.v == "":
			case direct && cur != nil && cur.kind == scalarNode:
				if _, err := r.set(cur, k, f.v, w(f.key)); err != nil {
					return err
				}
				afterK, afterV = k, v
			default:
				if err := r.insert(e, afterK, afterV, f.key, f.v, quoteStyle(afterV), w(f.key)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// sameRepo reports whether two spellings name the same repository.
func sameRepo(a, b string) bool {
	ra, err := name.ParseReference(a, name.WeakValidation)
	if err != nil {
		return false
	}
	rb, err := name.NewRepository(b, name.WeakValidation)
	return err == nil && ra.Context().Name() == rb.Name()
}
