// Package manifest rewrites the image references of Kubernetes manifests in
// place, the way `kubectl set image` would but on files, changing the image
// values and not one byte else.
//
// It edits the image of containers wherever Kubernetes objects keep them,
// in any kind: mappings with a string image and name in lists under
// containers, initContainers, ephemeralContainers, sidecars or steps (in
// a pod template the name may lack), and the mapping under a key named
// container; also inside `kind: List` and in every document of a
// multi-document file, YAML or JSON; the images: entries of
// kustomizations; and the fields that Rules name in Helm values and custom
// resources. YAML that is not a Kubernetes object (no apiVersion and
// kind), a bare image key elsewhere and strings that merely mention an
// image (annotations, args, block scalars) are left alone.
//
// Discover finds the files of a set of paths (the same for every command
// that reads manifests), leaving out Helm charts' templates folders.
//
// A reference matches an Image when its repository is the same after
// go-containerregistry's normalisation (nginx, docker.io/library/nginx and
// index.docker.io/library/nginx are one repository), whatever its tag or
// digest. The file's spelling of the repository is kept; only the tag and
// digest change, as the Pin says.
//
// Files are read into trees with yaml.v3 (or, for the common plain style of
// manifests, a faster scanner that yields the same trees), and the new
// values are spliced into the original bytes at the positions of the
// nodes: comments, quoting, indentation, flow style, key order, line
// endings, a byte order mark and non-ASCII text all stay as they were. A
// value given through an anchor is changed at the anchor. Quoted values are
// written back in the same quotes; a plain value is quoted only when the new
// text would otherwise read as something other than a string.
//
// Plan computes every edit of a set of files before anything is written,
// and Changes.Apply writes them all or none.
package manifest
