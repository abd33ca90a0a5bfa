#!/usr/bin/env python3
# formats_check.py - an independent implementation of docs/formats.md (Python, hashlib +
# cryptography's ed25519), replaying the scenario of test_golden.c and checking that it gives the
# same block hashes, state roots and receipts roots as the C ledger: the spec alone is enough to
# reproduce them. Usage: formats_check.py tests/ledger/test_golden.c  (exit 0 = same).
# Run by meson only when python3 has the `cryptography` module.
import re, sys
import hashlib, struct
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
M64=(1<<64)-1
def H(b): return hashlib.blake2b(b, digest_size=32).digest()
def Ht(tag,b): return H(tag.encode()+b'\0'+b)
u8=lambda v: struct.pack('<B',v); u32=lambda v: struct.pack('<I',v); u64=lambda v: struct.pack('<Q',v)
bs=lambda b: u32(len(b))+b
Z=bytes(32)
def keys(n):
    sk=Ed25519PrivateKey.from_private_bytes(bytes([n])*32)
    pk=sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return pk,sk
def page(seed):
    x=(seed*0x9e3779b97f4a7c15+1)&M64; out=bytearray()
    for _ in range(65536//8):
        x^=(x<<13)&M64; x^=x>>7; x^=(x<<17)&M64; out+=u64(x)
    return bytes(out)
def genesis():
    pk,_=keys(1)
    return u8(1)+bs(b'tally-test')+u64(1700000000000000000)+u32(1)+u64(2000000000)+u64(20000000000)+u32(4096)+pk+bs(
        u8(1)+u64(100000)+u64(300000000000)+u64(5000000000)+u64(25)
        +u32(1000)+u32(65536)+u32(65536))
def record(n,v,code=None,aux=b'',heap_pages=16,hr=Z,sr=Z):
    pk,_=keys(n)
    return (u8(1)+(code or bytes([0xc0+n])*32)+u32(1)+pk+u8(0)+u32(heap_pages)+u32(4)+hr+sr
            +bs(b'cd'+bytes([n]))+u64(v)+bs(aux))
def tree_root(leaves, D):
    # leaves: dict index->hash (nonzero)
    level={i:h for i,h in leaves.items() if h!=Z}
    for _ in range(D):
        nxt={}
        for i in set(k>>1 for k in level):
            l=level.get(2*i,Z); r=level.get(2*i+1,Z)
            nxt[i]= Z if (l==Z and r==Z) else Ht('tally/node', l+r)
        level={k:v for k,v in nxt.items() if v!=Z}
    return level.get(0,Z)
def phash(p): return Z if p==bytes(65536) else Ht('tally/page',p)
def message(k,nonce):
    pk,sk=keys(k)
    c=b'TLYM'+u8(1)+pk+u64(nonce)+u64(1)+u8(0)+bs(b'put')+bs(b'golden argument')+u64(100)
    return c+sk.sign(c), Ht('tally/message',c)
def receipts_root(rcs, height):
    out=u32(len(rcs))
    for mid,(st,ins,rep) in sorted(rcs.items()):
        out+=mid+Ht('tally/receipt', u8(1)+u32(st)+u64(height)+u64(ins)+bs(rep))
    return Ht('tally/receipts',out)
def block(h,parent,ts,ids,rr,sr):
    return Ht('tally/block', u8(1)+u64(h)+parent+u64(ts)+u32(len(ids))+b''.join(ids)+rr+sr)
# state
canisters={}  # id -> dict(rec args, heap{}, stable{})
next_id=1
def state_root():
    leaves={}
    for cid,c in canisters.items():
        hr=tree_root({p:phash(b) for p,b in c['heap'].items()},16)
        sr=tree_root({p:phash(b) for p,b in c['stable'].items()},32)
        leaves[cid]=Ht('tally/canister', record(**c['rec'],hr=hr,sr=sr))
    return Ht('tally/state', tree_root(leaves,64)+u64(next_id))
T0=1700000000000000000
out=[]
g=genesis(); parent=Ht('tally/genesis',g)
rr0=receipts_root({},0); sr=state_root()
b0=block(0,parent,T0,[],rr0,sr); out.append((b0.hex(), sr.hex(), rr0.hex()))
parent=b0
code=H(bytes([0])+b'asm'+bytes([1,0,0,0]))
# round 1
canisters[1]=dict(rec=dict(n=2,v=1,code=code,aux=b'g0=1'),heap={0:page(1),1:page(2)},stable={}); next_id=2
env,mid=message(4,1); rr=receipts_root({mid:(0,1234,b'ok')},1); sr=state_root()
b=block(1,parent,T0+1*10**9,[mid],rr,sr); out.append((b.hex(), sr.hex(), rr.hex())); parent=b
# round 2
canisters[1]['heap'][1]=page(3); canisters[1]['stable'][0]=page(4)
canisters[2]=dict(rec=dict(n=3,v=1),heap={},stable={}); next_id=3
env,mid=message(5,1); rr=receipts_root({mid:(400,99,b'unreachable')},2); sr=state_root()
b=block(2,parent,T0+2*10**9,[mid],rr,sr); out.append((b.hex(), sr.hex(), rr.hex())); parent=b
# round 3
rr=receipts_root({},3); sr=state_root(); b=block(3,parent,T0+3*10**9,[],rr,sr); out.append((b.hex(), sr.hex(), rr.hex())); parent=b
# round 4
canisters[1]['heap']={2:page(5)}; canisters[1]['rec']=dict(n=2,v=4,heap_pages=3)
rr=receipts_root({},4); sr=state_root(); b=block(4,parent,T0+4*10**9,[],rr,sr); out.append((b.hex(), sr.hex(), rr.hex()))

want = re.findall(r'"([0-9a-f]{64})"', open(sys.argv[1]).read())
got = [h for row in out for h in row]
if got != want:
    for i, (g, w) in enumerate(zip(got, want)):
        print(('ok  ' if g == w else 'DIFF') + ' block %d field %d: spec %s, C %s' % (i // 3, i % 3, g, w))
    print('formats_check: FAIL (%d values from the spec, %d in the test)' % (len(got), len(want)))
    sys.exit(1)
print('formats_check: %d values reproduced from docs/formats.md' % len(got))
