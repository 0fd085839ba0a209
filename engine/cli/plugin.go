package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/weir-gitops/weir/engine/internal/oci"
	"github.com/weir-gitops/weir/engine/internal/plugin"
)

// PasswordEnv names the environment variable that holds the private key's
// password, as with the cosign CLI.
const PasswordEnv = "COSIGN_PASSWORD"

// NewPluginCmd returns `engine plugin` and its subcommands: keygen, push,
// sign, verify, pull, test, run, bench.
func NewPluginCmd(stdout, stderr io.Writer) *cobra.Command {
	var insecure bool
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Build, publish, sign, verify and test Wasm plugins as OCI artifacts",
		Long: `Plugins are OCI artifacts (the CNCF Wasm artifact layout) signed with cosign
keys. Registry credentials come from the docker config file (docker login).
The private key's password is read from $` + PasswordEnv + `.`,
	}
	cmd.PersistentFlags().BoolVar(&insecure, "insecure", false, "Use plain HTTP to the registry (loopback and private addresses always do).")
	regOpts := func() []oci.Option {
		return []oci.Option{oci.WithKeychain(oci.DefaultKeychain), oci.WithInsecure(insecure)}
	}
	cmd.AddCommand(newKeygenCmd(stdout, stderr), newPushCmd(stdout, regOpts), newSignCmd(stdout, regOpts),
		newVerifyCmd(stdout, regOpts), newPullCmd(stdout, regOpts),
		newTestCmd(stdout, regOpts), newRunCmd(stdout, stderr, regOpts),
		newBenchCmd(stdout, stderr, regOpts))
	return cmd
}

func password() []byte { return []byte(os.Getenv(PasswordEnv)) }

// trimScheme accepts oci://host/repo:tag as well as host/repo:tag.
func trimScheme(ref string) string { return strings.TrimPrefix(ref, "oci://") }

func newKeygenCmd(stdout, stderr io.Writer) *cobra.Command {
	prefix := "cosign"
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Create a cosign key pair: <prefix>.key (encrypted with $" + PasswordEnv + ") and <prefix>.pub",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			pw := password()
			if len(pw) == 0 {
				fmt.Fprintf(stderr, "warning: $%s is empty; the private key is encrypted with an empty password\n", PasswordEnv)
			}
			kp, err := oci.GenerateKeyPair(pw)
			if err != nil {
				return err
			}
			for _, f := range []struct {
				path string
				body []byte
				mode os.FileMode
			}{{prefix + ".key", kp.Private, 0o600}, {prefix + ".pub", kp.Public, 0o644}} {
				fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
				if err != nil {
					return fmt.Errorf("write key: %w", err)
				}
				_, werr := fh.Write(f.body)
				if err := errors.Join(werr, fh.Close()); err != nil {
					return fmt.Errorf("write key: %w", err)
				}
			}
			_, err = fmt.Fprintf(stdout, "Private key written to %s.key\nPublic key written to %s.pub\n", prefix, prefix)
			return err
		},
	}
	cmd.Flags().StringVar(&prefix, "output-key-prefix", prefix, "Path prefix of the key files.")
	return cmd
}

func newPushCmd(stdout io.Writer, regOpts func() []oci.Option) *cobra.Command {
	return &cobra.Command{
		Use:   "push FILE.wasm oci://HOST/REPO:TAG",
		Short: "Push a plugin module and print its digest reference",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read module: %w", err)
			}
			meta, err := plugin.ReadMetadata(wasm)
			if err != nil {
				return fmt.Errorf("%s is not a Weir plugin: %w", args[0], err)
			}
			caps := make([]string, len(meta.Capabilities))
			for i, c := range meta.Capabilities {
				caps[i] = string(c)
			}
			d, err := oci.Push(cmd.Context(), wasm, trimScheme(args[1]),
				oci.Module{Name: meta.Name, Version: meta.Version, ABIVersion: meta.ABIVersion, Capabilities: caps}, regOpts()...)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(stdout, d.String())
			return err
		},
	}
}

func resolve(ctx context.Context, ref string, opts []oci.Option) (name.Digest, error) {
	return oci.Resolve(ctx, trimScheme(ref), opts...)
}

func newSignCmd(stdout io.Writer, regOpts func() []oci.Option) *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "sign --key cosign.key REF",
		Short: "Sign a plugin artifact (by the digest its tag points at now) in cosign's layout",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			priv, err := os.ReadFile(key)
			if err != nil {
				return fmt.Errorf("read key: %w", err)
			}
			s, err := oci.LoadSigner(priv, password())
			if err != nil {
				return err
			}
			d, err := resolve(cmd.Context(), args[0], regOpts())
			if err != nil {
				return err
			}
			if err := oci.Sign(cmd.Context(), d, s, regOpts()...); err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "Signed %s\n", d)
			return err
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "cosign private key file.")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

func readKeys(paths []string) (map[string][]byte, error) {
	keys := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read key: %w", err)
		}
		keys[p] = b
	}
	return keys, nil
}

func newVerifyCmd(stdout io.Writer, regOpts func() []oci.Option) *cobra.Command {
	var keys []string
	var policy string
	cmd := &cobra.Command{
		Use:   "verify --key cosign.pub [--key other.pub] REF",
		Short: "Verify a plugin artifact's cosign signatures",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := readKeys(keys)
			if err != nil {
				return err
			}
			d, err := resolve(cmd.Context(), args[0], regOpts())
			if err != nil {
				return err
			}
			res, err := oci.Verify(cmd.Context(), d, k, oci.Policy(policy), regOpts()...)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "Verified %s (keys: %s)\n", d, strings.Join(res.Verified, ", "))
			return err
		},
	}
	cmd.Flags().StringArrayVar(&keys, "key", nil, "cosign public key file; repeat for several.")
	cmd.Flags().StringVar(&policy, "policy", string(oci.PolicyAny), "Any: one key must have signed; All: every key.")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

// fetched is a module pulled from a registry.
type fetched struct {
	ref      name.Digest
	wasm     []byte
	verified []string // the keys that verified it; none when no key was given
}

// fetch resolves ref to a digest, verifies that digest with keys (any one
// of them) when there are keys, and pulls exactly that digest.
func fetch(ctx context.Context, ref string, keys []string, opts []oci.Option) (*fetched, error) {
	d, err := resolve(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	f := &fetched{ref: d}
	if len(keys) > 0 {
		k, err := readKeys(keys)
		if err != nil {
			return nil, err
		}
		res, err := oci.Verify(ctx, d, k, oci.PolicyAny, opts...)
		if err != nil {
			return nil, err
		}
		f.verified = res.Verified
	}
	a, err := oci.Pull(ctx, d, oci.Limits{}, opts...)
	if err != nil {
		return nil, err
	}
	f.wasm = a.Wasm
	return f, nil
}

func newPullCmd(stdout io.Writer, regOpts func() []oci.Option) *cobra.Command {
	var keys []string
	var out string
	cmd := &cobra.Command{
		Use:   "pull REF -o FILE.wasm [--key cosign.pub]",
		Short: "Pull a plugin module by digest, verifying it first when keys are given",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := fetch(cmd.Context(), args[0], keys, regOpts())
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, f.wasm, 0o644); err != nil {
				return fmt.Errorf("write module: %w", err)
			}
			_, err = fmt.Fprintf(stdout, "Pulled %s to %s (%d bytes)\n", f.ref, out, len(f.wasm))
			return err
		},
	}
	cmd.Flags().StringArrayVar(&keys, "key", nil, "cosign public key file; repeat for several.")
	cmd.Flags().StringVarP(&out, "output", "o", "plugin.wasm", "Where to write the module.")
	return cmd
}

// loadModule is how every command that runs a plugin gets its module: a
// file (an existing path, or one ending in .wasm or without a slash), or
// else an OCI artifact pulled by digest, verified first when keys are given
// (any one of them). It reports what it loaded, and whether it was verified,
// on status.
func loadModule(ctx context.Context, status io.Writer, arg string, keys []string, opts []oci.Option) ([]byte, error) {
	if _, err := os.Stat(arg); err == nil || !strings.Contains(arg, "/") || strings.HasSuffix(arg, ".wasm") {
		if len(keys) > 0 {
			return nil, errors.New("--key verifies OCI artifacts; a module file has no signature to check")
		}
		wasm, err := os.ReadFile(arg)
		if err != nil {
			return nil, fmt.Errorf("read module: %w", err)
		}
		fmt.Fprintf(status, "module %s (%s)\n", arg, plugin.Digest(wasm))
		return wasm, nil
	}
	got, err := fetch(ctx, arg, keys, opts)
	if err != nil {
		return nil, err
	}
	if len(got.verified) == 0 {
		fmt.Fprintf(status, "artifact %s: UNVERIFIED (no --key given)\n", got.ref)
	} else {
		fmt.Fprintf(status, "artifact %s: verified (keys: %s)\n", got.ref, strings.Join(got.verified, ", "))
	}
	return got.wasm, nil
}
