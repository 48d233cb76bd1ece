# zk-cluster-monitor: one image, MODE=monitor or MODE=client picks the program (the original
# tool's interface).
#   docker build -t zk-monitor-client .
#   docker run --network host -e MODE=monitor -e ZK_HOST=host.docker.internal:2181 -e ZK_ROOT_NODE=/cluster1 zk-monitor-client
#   docker run --network host -e MODE=client -e ZK_HOST=host.docker.internal:2181 -v $PWD/nodes.json:/app/nodes.json:ro zk-monitor-client

# Build: deno compile, with exactly the permissions of `deno task start` (see scripts/compile.ts).
FROM denoland/deno:debian-2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
COPY mod.ts main.ts monitor.ts client.ts ./
COPY src ./src
COPY scripts/compile.ts ./scripts/compile.ts
RUN deno task compile

# Run: glibc and nothing else (no shell, no package manager), as a non-root user.
FROM gcr.io/distroless/cc-debian12:nonroot
WORKDIR /app
COPY --from=build /src/dist/zk-cluster-monitor /usr/local/bin/zk-cluster-monitor
USER nonroot
# nodes.json (client) is read from /app/nodes.json: mount it, bake it, or use REGISTER instead.
ENTRYPOINT ["/usr/local/bin/zk-cluster-monitor"]
