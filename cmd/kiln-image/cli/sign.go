package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	firmware "github.com/kilnfw/kiln/firmware-images"
)

func runKeygen(_ context.Context, args []string, env Env) error {
	fs := newFlags("keygen", env)
	pub := fs.String("p", "kiln.pub", "public key file to write")
	sec := fs.String("s", "kiln.key", "secret key file to write")
	force := fs.Bool("f", false, "replace existing key files")
	kdf := fs.String("kdf", "sensitive", "password hashing cost: sensitive (minisign's, 1 GiB) or interactive (16 MiB)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	cost := firmware.KDFSensitive
	switch *kdf {
	case "sensitive":
	case "interactive":
		cost = firmware.KDFInteractive
	default:
		return fmt.Errorf("%w: --kdf %q: want sensitive or interactive", errUsage, *kdf)
	}
	key, err := firmware.GenerateKey(nil)
	if err != nil {
		return err
	}
	password := env.getenv(PasswordEnv)
	secText, err := key.Encode(password, cost, nil)
	if err != nil {
		return err
	}
	pubText, _ := key.Public().MarshalText()
	if err := writeFileAtomic(*sec, 0o600, !*force, writeBytes(secText)); err != nil {
		return err
	}
	if err := writeFileAtomic(*pub, 0o644, !*force, writeBytes(pubText)); err != nil {
		return err
	}
	state := "without a password"
	if password != "" {
		state = "encrypted with " + PasswordEnv
	}
	fmt.Fprintf(env.Stdout, "key %s: public key %s, secret key %s (%s)\n", key.ID(), *pub, *sec, state)
	return nil
}

func writeBytes(b []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}
}

func runBuild(_ context.Context, args []string, env Env) error {
	fs := newFlags("build", env)
	payload := fs.String("payload", "", "payload `file`: a squashfs image or a tar bundle")
	kind := fs.String("kind", "", "payload kind: bundle or rootfs")
	version := fs.String("version", "", "firmware version, e.g. 1.4.0")
	var boards listFlag
	fs.Var(&boards, "board", "compatible boards, comma-separated or repeated (any-ARCH for every board of ARCH)")
	keyPath := fs.String("key", "", "minisign secret key `file` (password from "+PasswordEnv+")")
	unsigned := fs.Bool("unsigned", false, "build without a signature (devices refuse such images)")
	out := fs.String("o", "", "image `file` to write")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *payload == "" || *kind == "" || *version == "" || len(boards) == 0 || *out == "" {
		return fmt.Errorf("%w: --payload, --kind, --version, --board and -o are required", errUsage)
	}
	if (*keyPath == "") == !*unsigned {
		return fmt.Errorf("%w: give --key, or --unsigned", errUsage)
	}
	o := firmware.BuildOptions{Version: *version, Boards: boards, Kind: firmware.Kind(*kind)}
	if *keyPath != "" {
		k, err := loadSecretKey(*keyPath, env.getenv(PasswordEnv))
		if err != nil {
			return err
		}
		o.Key = &k
	}
	created, err := buildTime(env)
	if err != nil {
		return err
	}
	o.Created = created
	f, err := os.Open(*payload)
	if err != nil {
		return err
	}
	defer f.Close()
	var m firmware.Manifest
	err = writeFileAtomic(*out, 0o644, false, func(w io.Writer) error {
		m, err = firmware.Build(w, f, o)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: kiln %s for %v, %s payload of %d bytes, sha256 %s\n",
		*out, m.Version, m.Boards, m.Payload.Kind, m.Payload.Size, m.Payload.SHA256)
	return nil
}

// buildTime honours SOURCE_DATE_EPOCH, for reproducible images.
func buildTime(env Env) (time.Time, error) {
	s := env.getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Now(), nil
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a positive number of seconds", s)
	}
	return time.Unix(sec, 0), nil
}

func loadSecretKey(path, password string) (firmware.SecretKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return firmware.SecretKey{}, err
	}
	k, err := firmware.ParseSecretKey(b, password)
	if err != nil {
		return firmware.SecretKey{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func loadPublicKeys(paths []string) ([]firmware.PublicKey, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: --pub is required", errUsage)
	}
	var keys []firmware.PublicKey
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		k, err := firmware.ParsePublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
