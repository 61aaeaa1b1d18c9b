package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/meshcheck/meshcheck/env/kind"
	"github.com/meshcheck/meshcheck/image"
)

func init() { register(newImagesCommand) }

// imagesImager builds the images `images push` pushes; tests replace it.
var imagesImager = func(sourceDir, outDir string, log *slog.Logger) image.Imager {
	return &image.Builder{ModuleDir: sourceDir, OutDir: outDir, Log: log}
}

type imagesPushFlags struct {
	registry string
	source   string
	platform string
	insecure bool
}

func newImagesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "meshcheck's own images (the in-mesh agent and the fixture workloads)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError(errors.New("give a subcommand: meshcheck images push"))
		},
	}
	cmd.AddCommand(newImagesPushCommand())
	return cmd
}

func newImagesPushCommand() *cobra.Command {
	var f imagesPushFlags
	cmd := &cobra.Command{
		Use:   "push --registry REG",
		Short: "Build meshcheck's images and push them to a registry an existing cluster pulls from",
		Long: `Build meshcheck's own images in-process (the fixture workloads and meshcheck
itself, which the in-mesh agent runs; FROM scratch, non-root, no docker build)
and push them with go-containerregistry to REG/<name>:<tag>. Each line printed
is one image pushed, pinned by digest: REG/<name>:<tag>@sha256:...

Then run scenarios on the cluster with
  meshcheck run <scenario> --env existing --image-registry REG
which deploys REG/<name>@sha256:... in place of the manifests'
meshcheck.local/<name>:<tag> and for the agent.

Credentials come from the Docker config (~/.docker/config.json and its
credential helpers), as docker login leaves them. Plain HTTP is used for
localhost and loopback registries, or with --insecure.

Exit codes: 0 pushed, 2 usage error, 4 environment error (build or push failed).`,
		Example: `  meshcheck images push --registry registry.example:5000/meshcheck
  meshcheck images push --registry localhost:5000 --platform linux/arm64`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runImagesPush(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.registry, "registry", "", "registry host[:port][/path] to push to (required)")
	fl.StringVar(&f.source, "source", "", "meshcheck source tree to build the images from (default: the checkout around the working directory)")
	fl.StringVar(&f.platform, "platform", "linux/"+runtime.GOARCH, "platform of the cluster's nodes: linux/amd64 or linux/arm64")
	fl.BoolVar(&f.insecure, "insecure", false, "talk plain HTTP to the registry (automatic for localhost and loopback)")
	return cmd
}

func runImagesPush(cmd *cobra.Command, f imagesPushFlags) error {
	if f.registry == "" {
		return usageError(errors.New("--registry: give the registry to push to, e.g. --registry registry.example:5000/meshcheck"))
	}
	if err := image.ValidateRegistry(f.registry); err != nil {
		return usageError(fmt.Errorf("--registry: %w", err))
	}
	p, err := image.ParsePlatform(f.platform)
	if err != nil {
		return usageError(fmt.Errorf("--platform: %w", err))
	}
	source := f.source
	if source == "" {
		if source, err = kind.FindSourceDir("."); err != nil {
			return usageError(err)
		}
	}
	if source, err = filepath.Abs(source); err != nil {
		return usageError(fmt.Errorf("--source: %w", err))
	}
	if _, err := os.Stat(filepath.Join(source, "go.mod")); err != nil {
		return usageError(fmt.Errorf("--source %s: no go.mod there: %w", source, err))
	}
	out, err := os.MkdirTemp("", "meshcheck-images-")
	if err != nil {
		return envError(err)
	}
	defer os.RemoveAll(out)
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	pushed, err := image.PushAll(cmd.Context(), imagesImager(source, out, log), image.Remote{Registry: f.registry, Insecure: f.insecure}, image.Defaults(), p)
	for _, x := range pushed {
		fmt.Fprintf(cmd.OutOrStdout(), "%s@%s\n", x.Tag, x.Digest)
	}
	if err != nil {
		return envError(err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "run scenarios with: meshcheck run <scenario> --env existing --image-registry %s\n", f.registry)
	return nil
}
