"""refund reasons as codes; receipts keep their payer; PostgreSQL guards of the ledger

Revision ID: 5b1e2c7a9d40
Revises: cdcff3be080e
Create Date: 2026-12-02 14:00:00

"""
from alembic import op
import sqlalchemy as sa

from ebiz.wallet import guards


# revision identifiers, used by Alembic.
revision = '5b1e2c7a9d40'
down_revision = 'cdcff3be080e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('refund_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason_code', sa.String(length=30), server_default='undeliverable',
                                      nullable=False))
    with op.batch_alter_table('payment_intent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payer', sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        for statement in guards.INSTALL:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for statement in guards.UNINSTALL:
            op.execute(statement)
    with op.batch_alter_table('refund_request', schema=None) as batch_op:
        batch_op.drop_column('reason_code')
    with op.batch_alter_table('payment_intent', schema=None) as batch_op:
        batch_op.drop_column('payer')
