// A throw-away PKI for NTS tests, made with the openssl CLI into a temp dir:
// a CA, server certificates signed by it (names and validity chosen per
// test), and self-signed certificates. EC P-256 keys: every TLS stack here
// (node, GnuTLS in chrony, OpenSSL in NTPsec) accepts them.
import { readFile, writeFile } from "node:fs/promises";
import { runCommand } from "./process.js";
import type { TempDir } from "./tmp.js";

export interface Issued {
  /** PEM certificate of the leaf. */
  certPath: string;
  /** PEM private key (unencrypted PKCS#8). */
  keyPath: string;
  /** Leaf followed by the CA: what `certificate-chain-path` points at. */
  chainPath: string;
}

/** Leaf key types (the CA is always EC P-256). */
export const LEAF_KEY_TYPES = ["p256", "rsa2048", "ed25519"] as const;
export type LeafKeyType = (typeof LEAF_KEY_TYPES)[number];

const GENPKEY_ARGS: Record<LeafKeyType, string[]> = {
  p256: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
  rsa2048: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
  ed25519: ["-algorithm", "ED25519"],
};

export interface TestPki {
  dir: TempDir;
  caCertPath: string;
  caKeyPath: string;
  /** Issues a server certificate for `names` (DNS names and IP literals). */
  issue(
    name: string,
    names: string[],
    options?: {
      days?: number;
      expired?: boolean;
      notYetValid?: boolean;
      /** Explicit validity, as Dates (within the CA's 30 days for a chain that can become valid). */
      validity?: { from: Date; until: Date };
      keyType?: LeafKeyType;
    },
  ): Promise<Issued>;
  /** A self-signed end-entity certificate for `names` (no CA). */
  selfSigned(name: string, names: string[]): Promise<Issued>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await runCommand("openssl", args, { cwd, timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`openssl ${args.join(" ")} failed:\n${r.stderr}`);
}

/** "20261207140000Z": the form `openssl ca -startdate/-enddate` takes. */
function opensslDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:T]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
}

function subjectAltName(names: string[]): string {
  return names.map((n) => (/^[0-9.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(",");
}

export async function makeTestPki(dir: TempDir): Promise<TestPki> {
  const cwd = dir.path;
  const caKeyPath = dir.file("ca.key");
  const caCertPath = dir.file("ca.pem");
  await openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", caKeyPath], cwd);
  // The minimal state `openssl ca` keeps: a database and a serial number.
  const caConfig = dir.file("ca.cnf");
  await writeFile(dir.file("index.txt"), "");
  await writeFile(dir.file("serial"), "1000\n");
  await writeFile(
    caConfig,
    [
      "[ca]",
      "default_ca = test_ca",
      "[test_ca]",
      `database = ${dir.file("index.txt")}`,
      `serial = ${dir.file("serial")}`,
      `new_certs_dir = ${cwd}`,
      "default_md = sha256",
      "policy = any_name",
      "unique_subject = no",
      "[any_name]",
      "commonName = supplied",
      "",
    ].join("\n"),
  );
  await openssl(
    [
      "req",
      "-x509",
      "-new",
      "-key",
      caKeyPath,
      "-sha256",
      "-days",
      "30",
      "-subj",
      "/CN=ntpd-ts test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-out",
      caCertPath,
    ],
    cwd,
  );

  async function leafKey(name: string, keyType: LeafKeyType = "p256"): Promise<string> {
    const keyPath = dir.file(`${name}.key`);
    await openssl(["genpkey", ...GENPKEY_ARGS[keyType], "-out", keyPath], cwd);
    return keyPath;
  }

  return {
    dir,
    caCertPath,
    caKeyPath,
    async issue(name, names, options = {}) {
      const keyPath = await leafKey(name, options.keyType);
      const csr = dir.file(`${name}.csr`);
      const ext = dir.file(`${name}.ext`);
      const certPath = dir.file(`${name}.pem`);
      const chainPath = dir.file(`${name}.chain.pem`);
      await openssl(
        ["req", "-new", "-key", keyPath, "-subj", `/CN=${names[0] ?? name}`, "-out", csr],
        cwd,
      );
      await writeFile(
        ext,
        `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${subjectAltName(names)}\n`,
      );
      // `openssl ca` takes explicit validity dates, which an expired certificate needs.
      const dates = options.validity
        ? [
            "-startdate",
            opensslDate(options.validity.from),
            "-enddate",
            opensslDate(options.validity.until),
          ]
        : options.expired
          ? ["-startdate", "20200101000000Z", "-enddate", "20200201000000Z"]
          : options.notYetValid
            ? ["-startdate", "20900101000000Z", "-enddate", "20910101000000Z"]
            : ["-days", String(options.days ?? 30)];
      await openssl(
        [
          "ca",
          "-batch",
          "-config",
          caConfig,
          "-cert",
          caCertPath,
          "-keyfile",
          caKeyPath,
          "-in",
          csr,
          "-out",
          certPath,
          "-extfile",
          ext,
          "-notext",
          ...dates,
        ],
        cwd,
      );
      await writeFile(
        chainPath,
        (await readFile(certPath, "utf8")) + (await readFile(caCertPath, "utf8")),
      );
      return { certPath, keyPath, chainPath };
    },
    async selfSigned(name, names) {
      const keyPath = await leafKey(name);
      const certPath = dir.file(`${name}.pem`);
      await openssl(
        [
          "req",
          "-x509",
          "-new",
          "-key",
          keyPath,
          "-sha256",
          "-days",
          "30",
          "-subj",
          `/CN=${names[0] ?? name}`,
          "-addext",
          "basicConstraints=critical,CA:FALSE",
          "-addext",
          "extendedKeyUsage=serverAuth",
          "-addext",
          `subjectAltName=${subjectAltName(names)}`,
          "-out",
          certPath,
        ],
        cwd,
      );
      return { certPath, keyPath, chainPath: certPath };
    },
  };
}
