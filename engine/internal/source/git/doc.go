// Package git fetches a git reference into a directory: it resolves a
// reference (branch, tag, semver range, ref name or commit, with Flux's
// precedence) with one ls-remote round trip, clones it shallowly when it can,
// checks out the commit (only some directories with a sparse checkout, with
// submodules when asked) and returns the revision in Flux's format
// (main@sha1:<hex>, v1.2.3@sha1:<hex>, sha1:<hex>) together with the commit
// and tag objects and their signatures. It authenticates over HTTP(S) with
// basic auth, a bearer token or TLS client certificates, and over SSH with
// an identity and known_hosts, from a Secret's data keyed as Flux names it.
//
// Keys verifies the OpenPGP and SSH signatures of those objects; SSH
// signatures (git's gpg.format=ssh, OpenSSH's SSHSIG format) are checked
// here with golang.org/x/crypto/ssh, since go-git verifies only OpenPGP.
//
// It must not import Kubernetes, Flux API or controller packages: callers
// map their objects to a Request.
package git
