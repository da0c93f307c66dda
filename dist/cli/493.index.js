export const id = 493;
export const ids = [493];
export const modules = {

/***/ 4493:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   verifyBundle: () => (/* binding */ verifyBundle)
/* harmony export */ });
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(7598);
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_crypto__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_fs_promises__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(1455);
/* harmony import */ var node_fs_promises__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__webpack_require__.n(node_fs_promises__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(6760);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_2___default = /*#__PURE__*/__webpack_require__.n(node_path__WEBPACK_IMPORTED_MODULE_2__);
/* harmony import */ var _sigstore_bundle__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(1040);
/* harmony import */ var _sigstore_protobuf_specs__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(9654);
/* harmony import */ var _sigstore_protobuf_specs__WEBPACK_IMPORTED_MODULE_4___default = /*#__PURE__*/__webpack_require__.n(_sigstore_protobuf_specs__WEBPACK_IMPORTED_MODULE_4__);
/* harmony import */ var _sigstore_tuf__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(4423);
/* harmony import */ var _sigstore_tuf_seeds_json__WEBPACK_IMPORTED_MODULE_6__ = __webpack_require__(8032);
/* harmony import */ var _sigstore_verify__WEBPACK_IMPORTED_MODULE_7__ = __webpack_require__(4187);
/* harmony import */ var _buildx_signing_js__WEBPACK_IMPORTED_MODULE_8__ = __webpack_require__(4339);
// The Sigstore verification itself, through the Sigstore libraries (@sigstore/bundle,
// @sigstore/verify, @sigstore/tuf). This module is loaded with import() only when a signature is
// checked: a cache hit, the runner's buildx or a path loads none of it.









/** How long the public-good trusted root may take through TUF before the shipped one is used. */
const TUF_DEADLINE_MS = 10_000;
/** The TrustedRoot: the file given, else public-good through TUF, else the one @sigstore/tuf ships. */
async function trustedRoot(source, cacheDir, info) {
    if (typeof source === 'object')
        return rootFromFile(source.file);
    const cachePath = (0,node_path__WEBPACK_IMPORTED_MODULE_2__.join)(cacheDir, 'sigstore-tuf');
    const shipped = () => {
        const root = shippedRoot();
        info(`Sigstore: using the trusted root @sigstore/tuf ships (its newest key ${newestKey(root)})`);
        return root;
    };
    if (source === 'shipped')
        return shipped();
    let timer;
    const late = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${TUF_DEADLINE_MS / 1000}s`)), TUF_DEADLINE_MS);
    });
    try {
        return await Promise.race([(0,_sigstore_tuf__WEBPACK_IMPORTED_MODULE_5__.getTrustedRoot)({ cachePath }), late]);
    }
    catch (err) {
        info(`Sigstore's trusted root could not be updated through TUF (${err.message})`);
        return shipped();
    }
    finally {
        clearTimeout(timer);
    }
}
/** The public-good trusted_root.json that @sigstore/tuf ships as its seed (no network). */
function shippedRoot() {
    const seed = _sigstore_tuf_seeds_json__WEBPACK_IMPORTED_MODULE_6__[_sigstore_tuf__WEBPACK_IMPORTED_MODULE_5__.DEFAULT_MIRROR_URL];
    const text = seed?.targets['trusted_root.json'];
    if (!text)
        throw new Error(`@sigstore/tuf ships no trusted_root.json for ${_sigstore_tuf__WEBPACK_IMPORTED_MODULE_5__.DEFAULT_MIRROR_URL}`);
    return _sigstore_protobuf_specs__WEBPACK_IMPORTED_MODULE_4__.TrustedRoot.fromJSON(JSON.parse(Buffer.from(text, 'base64').toString('utf8')));
}
/** A trusted_root.json given as sigstore-trusted-root; an error that names the input. */
async function rootFromFile(file) {
    try {
        const root = _sigstore_protobuf_specs__WEBPACK_IMPORTED_MODULE_4__.TrustedRoot.fromJSON(JSON.parse(await (0,node_fs_promises__WEBPACK_IMPORTED_MODULE_1__.readFile)(file, 'utf8')));
        if (root.certificateAuthorities.length === 0 || root.tlogs.length === 0)
            throw new Error('it names no certificate authority or no transparency log');
        return root;
    }
    catch (err) {
        throw new Error(`Input "sigstore-trusted-root": not a Sigstore trusted_root.json (${err.message})`, {
            cause: err,
        });
    }
}
/** When the newest key of a trusted root became valid, `2025-04-16` (how old a shipped root is). */
function newestKey(root) {
    const starts = [
        ...root.certificateAuthorities,
        ...root.tlogs.map((t) => t.publicKey),
        ...root.ctlogs.map((t) => t.publicKey),
    ]
        .map((k) => k?.validFor?.start)
        .filter((d) => d instanceof Date);
    if (starts.length === 0)
        return 'undated';
    return `from ${new Date(Math.max(...starts.map((d) => d.getTime()))).toISOString().slice(0, 10)}`;
}
/**
 * Verifies `bundleText` for the bytes of `file`: the trust root's CA issued the certificate, the
 * transparency log holds the entry, the signature is of these bytes, and the certificate names
 * GitHub's OIDC issuer and Docker's build workflow. Throws an Error whose message says what did
 * not match.
 */
async function verifyBundle(file, bundleText, opts) {
    const identity = opts.identity ?? { subject: _buildx_signing_js__WEBPACK_IMPORTED_MODULE_8__/* .BUILDX_WORKFLOW */ .PC, issuer: _buildx_signing_js__WEBPACK_IMPORTED_MODULE_8__/* .GITHUB_ISSUER */ .oX };
    const root = await trustedRoot(opts.root, opts.cacheDir, opts.info);
    let bundle;
    try {
        bundle = (0,_sigstore_bundle__WEBPACK_IMPORTED_MODULE_3__/* .bundleFromJSON */ .vw)(JSON.parse(bundleText));
        (0,_sigstore_bundle__WEBPACK_IMPORTED_MODULE_3__/* .assertBundle */ .DU)(bundle);
    }
    catch (err) {
        throw new Error(`the bundle is not a Sigstore bundle (${err.message})`, { cause: err });
    }
    // A trust root without a CT log (a private deployment) asks for no SCT.
    const verifier = new _sigstore_verify__WEBPACK_IMPORTED_MODULE_7__/* .Verifier */ .BL((0,_sigstore_verify__WEBPACK_IMPORTED_MODULE_7__/* .toTrustMaterial */ .jO)(root), { ctlogThreshold: root.ctlogs.length > 0 ? 1 : 0 });
    const bytes = await (0,node_fs_promises__WEBPACK_IMPORTED_MODULE_1__.readFile)(file);
    if (bundle.content.$case === 'dsseEnvelope' && !covers(bundle.content.dsseEnvelope.payload, bytes))
        throw new Error((0,_buildx_signing_js__WEBPACK_IMPORTED_MODULE_8__/* .refusalOf */ .Of)('SIGNATURE_ERROR', 'the statement names another subject'));
    try {
        const signer = verifier.verify((0,_sigstore_verify__WEBPACK_IMPORTED_MODULE_7__/* .toSignedEntity */ .DC)(bundle, bytes), {
            subjectAlternativeName: identity.subject,
            extensions: { issuer: identity.issuer },
        });
        const entry = bundle.verificationMaterial.tlogEntries[0];
        return {
            subject: signer.identity?.subjectAlternativeName ?? '',
            issuer: signer.identity?.extensions?.issuer ?? '',
            logIndex: String(entry.logIndex),
        };
    }
    catch (err) {
        const e = err;
        const detail = e.cause?.message ? `${e.message}: ${e.cause.message}` : e.message;
        throw new Error((0,_buildx_signing_js__WEBPACK_IMPORTED_MODULE_8__/* .refusalOf */ .Of)(e.code, detail), { cause: err });
    }
}
/** Whether a DSSE envelope's in-toto statement has these bytes as its subject. */
function covers(payload, bytes) {
    const digest = (alg) => (0,node_crypto__WEBPACK_IMPORTED_MODULE_0__.createHash)(alg).update(bytes).digest('hex');
    return (0,_buildx_signing_js__WEBPACK_IMPORTED_MODULE_8__/* .statementCovers */ .g)(payload.toString('utf8'), { sha256: digest('sha256'), sha512: digest('sha512') });
}


/***/ })

};
