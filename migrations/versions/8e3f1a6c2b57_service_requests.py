"""service requests: what an on-demand extraction is to deliver, on the cart item and the order line

Revision ID: 8e3f1a6c2b57
Revises: 5b1e2c7a9d40
Create Date: 2026-12-02 16:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '8e3f1a6c2b57'
down_revision = '5b1e2c7a9d40'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('cart_item', 'order_line'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('request_note', sa.Text(), nullable=True))


def downgrade():
    for table in ('order_line', 'cart_item'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('request_note')
