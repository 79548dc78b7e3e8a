/* The header twice (include guard) and used from C11 with every warning as an error. */
#include "crm.h"
#include "crm.h"

int main(void) {
    crm_status s = CRM_OK;
    crm_t *db = NULL;
    (void)db;
    return (int)s + (crm_abi_version() == CRM_ABI_VERSION ? 0 : 1);
}
