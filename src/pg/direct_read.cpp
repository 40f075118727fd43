// The checks every direct read makes first (direct_read.h).
#include "pg/direct_read.h"

#include "pg/spi.h"

extern "C" {
#include "catalog/pg_collation_d.h"
#include "utils/acl.h"
#include "utils/rls.h"
}

namespace aegis::pg {

bool MayReadDirectly(Oid relid) {
  return !UnderCitus() && pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK &&
         check_enable_rls(relid, InvalidOid, false) != RLS_ENABLED;
}

AttrNumber ColumnOf(Relation rel, const char* name, Oid type) {
  const TupleDesc desc = RelationGetDescr(rel);
  for (int i = 0; i < desc->natts; ++i) {
    const Form_pg_attribute a = TupleDescAttr(desc, i);
    if (a->attisdropped || strcmp(NameStr(a->attname), name) != 0) continue;
    if (a->atttypid != type) return InvalidAttrNumber;
    if (type == TEXTOID && a->attcollation != DEFAULT_COLLATION_OID) return InvalidAttrNumber;
    return a->attnum;
  }
  return InvalidAttrNumber;
}

bool IndexUsableNow(Relation index) {
  const Form_pg_index i = index->rd_index;
  return i->indisvalid && i->indisready && i->indislive && !i->indcheckxmin && RelationGetIndexPredicate(index) == NIL;
}

}  // namespace aegis::pg
