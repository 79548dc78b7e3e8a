// The header compiles as C++ (extern "C" guards) and links by C names.
#include "crm.h"
#include "crm.h"

static_assert(CRM_OK == 0, "CRM_OK is zero");

int main() {
    crm_t *db = nullptr;
    crm_status s = crm_open_in_memory(&db);
    crm_close(db);
    return s == CRM_OK ? 0 : 1;
}
